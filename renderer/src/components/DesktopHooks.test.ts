import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "../App.svelte";
import type { Api } from "../lib/api.ts";
import { FakeApi } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import ModelsView from "./ModelsView.svelte";

type ShellCommand = "new-chat" | "settings" | "documents" | "models";

/** The FakeApi with what only the desktop bridge has: the native picker, adding a model, menu commands. */
class DesktopFakeApi extends FakeApi {
    shellListeners = new Set<(command: ShellCommand) => void>();
    added: string[] = [];
    override choosePaths: Api["choosePaths"] = async () => ["/home/u/Downloads/picked.gguf"];
    addModelFile = async (path: string) => {
        this.added.push(path);
        return "/models/picked.gguf";
    };
    onShellCommand = (listener: (command: ShellCommand) => void) => {
        this.shellListeners.add(listener);
        return () => void this.shellListeners.delete(listener);
    };
    command(command: ShellCommand) {
        for (const l of this.shellListeners) l(command);
    }
}

describe("desktop hooks", () => {
    it("Models has no picker in a browser", async () => {
        await renderWith(ModelsView);
        await screen.findByTestId("model-target");
        expect(screen.queryByTestId("models-add")).toBeNull();
    });

    it("Models adds a chosen .gguf to the models folder and selects it", async () => {
        const api = new DesktopFakeApi();
        await renderWith(ModelsView, {}, api);
        await fireEvent.click(await screen.findByTestId("models-add"));
        await waitFor(() => expect(api.added).toEqual(["/home/u/Downloads/picked.gguf"]));
        await waitFor(() => expect(api.callsOf("listModels").length).toBeGreaterThanOrEqual(2));
    });

    it("the menu's New Chat and Settings reach the window", async () => {
        const api = new DesktopFakeApi();
        render(App, { props: { api } });
        await screen.findByTestId("nav-chat");
        api.command("settings");
        await waitFor(() => expect(screen.getByTestId("nav-settings").getAttribute("aria-current")).toBe("page"));
        api.command("new-chat");
        await waitFor(() => expect(screen.getByTestId("nav-chat").getAttribute("aria-current")).toBe("page"));
        api.command("models");
        await waitFor(() => expect(screen.getByTestId("nav-models").getAttribute("aria-current")).toBe("page"));
    });
});
