// The node's HTTP API as the pages read it: same origin (the node serves the app), JSON,
// errors turned into a message that names the route and what the node said.
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function getJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `the node does not answer ${path} (${(e as Error).message})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const said = (body as { error?: string } | undefined)?.error ?? text.slice(0, 200);
    throw new ApiError(res.status, `${path}: HTTP ${res.status}: ${said}`);
  }
  if (body === undefined) throw new ApiError(res.status, `${path}: the answer is not JSON`);
  return body as T;
}

export async function getText(path: string, init: RequestInit = {}): Promise<string> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `the node does not answer ${path} (${(e as Error).message})`);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, `${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text;
}
