// The chat-path benchmark's client, in a process of its own as the window and API clients are:
// reads one request a line ({ url, body, headers, first }) on stdin and answers with
// { ms, firstMs, tokens } on stdout: timed from sending the request to the end of its stream, and to
// the first bytes holding `first` (the first streamed text). It uses node:http on a kept-alive
// connection, as a browser or curl would, rather than Node's fetch, which alone spent 2–3 ms a request.
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

for await (const line of createInterface({ input: process.stdin })) {
    const { url, body, headers, first } = JSON.parse(line);
    try {
        const t = performance.now();
        const { status, text, firstMs } = await post(url, JSON.stringify(body), headers, first, t);
        const ms = performance.now() - t;
        if (status !== 200) throw new Error(`HTTP ${status}: ${text.slice(0, 200)}`);
        process.stdout.write(JSON.stringify({ ms, firstMs: firstMs ?? ms, tokens: tokenCount(text) }) + "\n");
    } catch (err) {
        process.stdout.write(JSON.stringify({ error: String(err?.message ?? err) }) + "\n");
    }
}

function post(url, body, headers, first, t) {
    return new Promise((resolve, reject) => {
        const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } }, (res) => {
            res.setEncoding("utf8");
            let text = "";
            let firstMs = null;
            res.on("data", (piece) => {
                text += piece;
                if (firstMs == null && text.includes(first)) firstMs = performance.now() - t;
            });
            res.on("end", () => resolve({ status: res.statusCode, text, firstMs }));
            res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
    });
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
