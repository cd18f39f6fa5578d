import type {
    AddDocumentsRequest, AnswerEvent, AppApi, AppEvent, AppState, Conversation, ConversationWithMessages,
    CreateConversationRequest, DocumentSource, DocumentsResponse, DownloadRequest, DraftCheckResponse, EngineInfo,
    LoadModelRequest, ModelsFolderRequest, ModelsResponse, PairDownloadProgress, PairDownloadRequest, RaceRequest, RaceResponse, RpcWorkersStatus, SendMessageRequest, Settings, UpdateConversationRequest
} from "./app-api.ts";
import type { ChatService } from "./chat-service.ts";
import type { DocumentService } from "./document-service.ts";
import type { EventBus } from "./event-bus.ts";
import type { GenerationService } from "./generation-service.ts";
import type { ModelService } from "./model-service.ts";
import { normalizeRpcWorkers, rpcWorkersStatus } from "./rpc-status.ts";
import { downloadSchema, idSchema, settingsPatchSchema, watchSchema } from "./schemas.ts";
import type { SettingsService } from "./settings-service.ts";
import { validate } from "./validation.ts";

export interface AppServiceParts {
    version: string;
    events: EventBus;
    settings: SettingsService;
    models: ModelService;
    generation: GenerationService;
    chat: ChatService;
    documents: DocumentService;
}

/**
 * The app API (server/app-api.ts) over the services: the one object both adapters call, HTTP routes
 * and Electron IPC handlers alike. Every argument is validated here, since both adapters hand over
 * whatever arrived from outside.
 */
export class AppService implements AppApi {
    constructor(private readonly parts: AppServiceParts) {}

    async getState(): Promise<AppState> {
        return { settings: this.parts.settings.get(), engine: this.parts.models.info(), loading: this.parts.models.loading(), version: this.parts.version };
    }

    async updateSettings(patch: Partial<Settings>): Promise<Settings> {
        const valid = validate(settingsPatchSchema, patch, "settings");
        // Workers as llama.cpp takes them (`host:port`, IPv6 in brackets, no repeats); a bad one is one line naming it.
        if (valid.rpcWorkers != null) valid.rpcWorkers = normalizeRpcWorkers(valid.rpcWorkers);
        // Through the models: a setting that reloads the model is tried before it is kept.
        return this.parts.models.updateSettings(valid);
    }

    listModels(): Promise<ModelsResponse> {
        return this.parts.models.listModels();
    }

    loadModel(request: LoadModelRequest): Promise<EngineInfo> {
        return this.parts.models.load(request);
    }

    checkDraft(request: { target: string; draft: string }): Promise<DraftCheckResponse> {
        return this.parts.models.checkDraft(request);
    }

    async downloadModel(request: DownloadRequest): Promise<{ id: string }> {
        return this.parts.models.downloads.start(validate(downloadSchema, request, "download request").uri);
    }

    cancelDownload(id: string): Promise<void> {
        return this.parts.models.downloads.cancel(validate(idSchema, id, "download id"));
    }

    pauseDownload(id: string): Promise<void> {
        return this.parts.models.downloads.pause(validate(idSchema, id, "download id"));
    }

    downloadPair(request: PairDownloadRequest): Promise<PairDownloadProgress> {
        return this.parts.models.downloadPair(request);
    }

    setModelsFolder(request: ModelsFolderRequest): Promise<ModelsResponse> {
        return this.parts.models.setModelsFolder(request);
    }

    async listConversations(search?: string): Promise<Conversation[]> {
        return this.parts.chat.list(search);
    }

    async createConversation(request: CreateConversationRequest): Promise<Conversation> {
        return this.parts.chat.create(request);
    }

    async getConversation(id: string): Promise<ConversationWithMessages> {
        return this.parts.chat.get(id);
    }

    async updateConversation(id: string, patch: UpdateConversationRequest): Promise<Conversation> {
        return this.parts.chat.update(id, patch);
    }

    async deleteConversation(id: string): Promise<void> {
        this.parts.chat.remove(id);
    }

    sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void, options?: { signal?: AbortSignal }): Promise<void> {
        return this.parts.chat.sendMessage(conversationId, request, onEvent, options);
    }

    async stopGeneration(generationId: string): Promise<void> {
        this.parts.chat.stop(generationId);
    }

    race(request: RaceRequest): Promise<RaceResponse> {
        return this.parts.generation.race(request);
    }

    async listDocuments(limit?: number, offset?: number): Promise<DocumentsResponse> {
        return this.parts.documents.list(limit, offset);
    }

    addDocuments(request: AddDocumentsRequest): Promise<DocumentSource> {
        return this.parts.documents.add(request);
    }

    removeDocuments(id: string): Promise<void> {
        return this.parts.documents.remove(id);
    }

    async rescanDocuments(id: string): Promise<void> {
        this.parts.documents.rescan(id);
    }

    async pauseDocuments(id: string, paused: boolean): Promise<void> {
        this.parts.documents.setPaused(id, paused);
    }

    async setDocumentsWatch(id: string, watch: boolean): Promise<void> {
        this.parts.documents.setWatch(id, validate(watchSchema, { watch }, "watch flag").watch);
    }

    rpcWorkersStatus(): Promise<RpcWorkersStatus> {
        return rpcWorkersStatus(this.parts.settings.get().rpcWorkers);
    }

    async clearHistory(): Promise<void> {
        this.parts.chat.clearHistory();
    }

    onAppEvent(listener: (event: AppEvent) => void): () => void {
        return this.parts.events.subscribe(listener);
    }
}
