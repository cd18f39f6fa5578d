// The chat-path benchmark's client, in a process of its own as the window and API clients are:
// reads one request a line ({ url, body, headers }) on stdin and answers with { ms, tokens } on stdout,
// timed from sending the request to the end of its stream.
import { createInterface } from "node:readline";

for await (const line of createInterface({ input: process.stdin })) {
    const { url, body, headers } = JSON.parse(line);
    try {
        const t = performance.now();
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
        const text = await res.text();
        const ms = performance.now() - t;
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
        process.stdout.write(JSON.stringify({ ms, tokens: tokenCount(text) }) + "\n");
    } catch (err) {
        process.stdout.write(JSON.stringify({ error: String(err?.message ?? err) }) + "\n");
    }
}

/** OpenAI streams end with `usage`; the app's answer stream ends with the stored message and its stats. */
function tokenCount(stream) {
    let tokens = null;
    for (const line of stream.split("\n")) {
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const data = JSON.parse(line.slice(6));
        tokens = data.usage?.completion_tokens ?? data.message?.stats?.tokens ?? tokens;
    }
    if (tokens == null) throw new Error(`the stream reported no token count: ${stream.slice(-300)}`);
    return tokens;
}
