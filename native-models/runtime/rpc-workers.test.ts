import { describe, expect, it } from "vitest";
import { listen } from "../testing/rpc-cluster.ts";
import { getRuntime, hasRpcRuntime } from "./llama-runtime.ts";
import { isPrivateAddress, parseRpcEndpoints, probeRpcWorker, rpcExposureWarning } from "./rpc-workers.ts";

// No RPC-enabled binding is loaded in this file's process: only the prebuilt one, which must stay the
// default (the RPC build shares library names with it, so one process holds one of the two).

describe("remote workers: addresses and probes", () => {
    it("parses host:port lists, IPv6 in brackets, and refuses anything else with one line naming it", () => {
        expect(parseRpcEndpoints("10.0.0.5:50052, gpu-box.local:50053,[fd00::2]:50052,10.0.0.5:50052").map((e) => e.text))
            .toEqual(["10.0.0.5:50052", "gpu-box.local:50053", "[fd00::2]:50052"]);
        expect(parseRpcEndpoints([])).toEqual([]);
        for (const bad of ["10.0.0.5", "10.0.0.5:0", "10.0.0.5:70000", "host:port", "fd00::2:50052", "[not-ip]:1", "a b:1"]) {
            expect(() => parseRpcEndpoints(bad), bad).toThrow(/is not a worker address/);
            expect(() => parseRpcEndpoints(bad)).toThrow(expect.objectContaining({ code: "rpc-worker" }));
        }
        const many = Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}:50052`).join(",");
        expect(() => parseRpcEndpoints(many)).toThrow(/at most 16/);
    });

    it("tells private and loopback addresses from the open network, and warns for the latter", async () => {
        for (const a of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.20", "169.254.3.4", "::1", "fd00::2", "fe80::1", "::ffff:192.168.0.1"]) expect(isPrivateAddress(a), a).toBe(true);
        for (const a of ["8.8.8.8", "172.32.0.1", "100.64.0.1", "2001:db8::1", "::ffff:8.8.8.8"]) expect(isPrivateAddress(a), a).toBe(false);
        expect(await rpcExposureWarning(parseRpcEndpoints("192.168.1.20:50052")[0]!)).toBeNull();
        expect(await rpcExposureWarning(parseRpcEndpoints("localhost:50052")[0]!)).toBeNull();
        const warning = await rpcExposureWarning(parseRpcEndpoints("8.8.8.8:50052")[0]!);
        expect(warning).toMatch(/^Worker 8\.8\.8\.8:50052 \(8\.8\.8\.8\) is not on a private or loopback address: llama\.cpp's rpc-server is unauthenticated/);
        expect(warning).not.toContain("\n");
    });

    it("says in one line, within 5 s, that a worker refuses, does not answer, or is not an rpc-server", async () => {
        const closed = await listen(() => undefined);
        const closedPort = closed.port;
        await new Promise((r) => closed.server.close(r));
        await expect(probeRpcWorker(parseRpcEndpoints(`127.0.0.1:${closedPort}`)[0]!)).rejects.toThrow(`worker 127.0.0.1:${closedPort} refused the connection (no rpc-server listens there)`);

        // Accepts and never answers: what a worker behind a dead link or a busy rpc-server looks like.
        const silent = await listen(() => undefined);
        const t = performance.now();
        await expect(probeRpcWorker(parseRpcEndpoints(`127.0.0.1:${silent.port}`)[0]!)).rejects.toThrow(`worker 127.0.0.1:${silent.port} did not answer within 5 s`);
        const waited = performance.now() - t;
        expect(waited).toBeGreaterThan(4900);
        expect(waited).toBeLessThan(6000);

        // An HTTP server, say: it answers, but not HELLO.
        const other = await listen((socket) => socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n0123456789012345678901234567890123"));
        await expect(probeRpcWorker(parseRpcEndpoints(`127.0.0.1:${other.port}`)[0]!)).rejects.toThrow(/is not a llama\.cpp rpc-server of this version/);
        // One from another protocol version.
        const old = await listen((socket) => {
            const answer = Buffer.alloc(8 + 28);
            answer.writeBigUInt64LE(28n, 0);
            answer[8] = 5;
            socket.end(answer);
        });
        await expect(probeRpcWorker(parseRpcEndpoints(`127.0.0.1:${old.port}`)[0]!)).rejects.toThrow(/speaks RPC protocol 5\.0\.0, this llama\.cpp speaks 6\.x/);
        for (const s of [silent, other, old]) s.server.close();
    }, 20_000);

    it("leaves the default runtime on node-llama-cpp's prebuilt binaries, whatever was built for RPC", async () => {
        console.info(`the RPC build is ${hasRpcRuntime() ? "present" : "absent"} here`);
        const cpu = await getRuntime({ backend: "cpu" });
        expect(cpu.buildType).toBe("prebuilt");
        expect(cpu.cmakeOptions.GGML_RPC).toBeUndefined();
        expect((await getRuntime({ backend: "auto" })).buildType).toBe("prebuilt");
        await expect(getRuntime({ backend: "vulkan", rpc: true })).rejects.toThrow(/Remote workers run with the CPU backend here/);
    });
});

