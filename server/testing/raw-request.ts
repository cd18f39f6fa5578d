import { request as httpRequest } from "node:http";

export interface RawResponse {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

/**
 * One request as a plain client sends it, the whole answer read: for tests that send what no
 * well-behaved client would (a foreign Host, broken JSON, wrong types).
 */
export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
        const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        });
        req.on("error", reject);
        req.end(options.body);
    });
}
