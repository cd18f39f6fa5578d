import type { TestServer } from "./test-server.ts";

/** One app API call to a test server with its page token: the status and the parsed JSON body. */
export async function callAppApi<T>(server: Pick<TestServer, "url" | "token">, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(server.url + path, {
        method,
        headers: { "x-presage-token": server.token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}
