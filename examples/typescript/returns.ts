// A webshop backend on Node talking to the returns service: submit a return over the HTTP API,
// and receive its webhooks, checking each signature (Standard Webhooks: HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>"). Node 18+, no runtime dependencies.
//
//   npm install && npx tsc -p .
//   RETURNS_API_URL=http://127.0.0.1:8000 RETURNS_API_KEY=rk_... node dist/returns.js submit ../toner.json
//   RETURNS_WEBHOOK_SECRET=whsec_... node dist/returns.js receive 8787

import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, IncomingHttpHeaders } from "node:http";

/** An RFC 9457 problem the API answered with (4xx: fix the input; 409: refused in this state). */
export class ReturnsApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; [member: string]: unknown },
  ) {
    super(`${status} ${problem.title ?? ""}: ${problem.detail ?? ""}`);
  }
}

export interface CaseView {
  return_id: string;
  kind: string;
  status: string;
  [field: string]: unknown;
}

/** POST /v1/returns: 201 for a new case, 200 with the existing case for a known return_id. */
export async function submitReturn(
  baseUrl: string,
  apiKey: string,
  request: unknown,
): Promise<{ created: boolean; view: CaseView }> {
  const response = await fetch(`${baseUrl}/v1/returns`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  const body: unknown = await response.json();
  if (!response.ok) {
    throw new ReturnsApiError(response.status, body as ReturnsApiError["problem"]);
  }
  return { created: response.status === 201, view: body as CaseView };
}

/** The checked payload of a webhook, or an Error saying why it must be refused. */
export function verifyWebhook(
  secret: string,
  headers: IncomingHttpHeaders,
  body: string,
  toleranceSeconds = 300,
  now: number = Date.now() / 1000,
): { type: string; timestamp: string; data: { return_id: string; case: CaseView } } {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") {
    throw new Error("missing webhook-id, webhook-timestamp or webhook-signature");
  }
  // An old or future timestamp is a replay (or a wrong clock): refuse it.
  if (Math.abs(now - Number(timestamp)) > toleranceSeconds) {
    throw new Error("timestamp outside the tolerance");
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  // During a secret rotation the header carries one signature per valid secret.
  const valid = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",", 2);
    if (version !== "v1" || signature === undefined) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) throw new Error("no valid signature");
  return JSON.parse(body);
}

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv;
  if (command === "submit" && arg !== undefined) {
    const request: unknown = JSON.parse(readFileSync(arg, "utf8"));
    const { created, view } = await submitReturn(
      process.env.RETURNS_API_URL ?? "http://127.0.0.1:8000",
      process.env.RETURNS_API_KEY ?? "",
      request,
    );
    console.log(`${created ? "created" : "existing"} ${view.return_id} ${view.kind} ${view.status}`);
  } else if (command === "receive" && arg !== undefined) {
    const secret = process.env.RETURNS_WEBHOOK_SECRET ?? "";
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        try {
          const payload = verifyWebhook(secret, req.headers, Buffer.concat(chunks).toString("utf8"));
          // Deliveries are at least once: a shop keeps the webhook-id it handled and skips repeats.
          console.log(`${req.headers["webhook-id"]} ${payload.type} ${payload.data.return_id}`);
          res.writeHead(204).end();
        } catch (e) {
          console.error(`refused: ${(e as Error).message}`);
          res.writeHead(400).end();
        }
      });
    });
    server.listen(Number(arg), "127.0.0.1", () => console.log(`listening on ${arg}`));
  } else {
    console.error("usage: returns.js submit REQUEST.json | returns.js receive PORT");
    process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
