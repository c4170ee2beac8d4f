/**
 * `npm run web`: serves dist/web (built by `npm run build:web`) on 127.0.0.1 and prints the address. A plain
 * static server: no cross-origin isolation headers, so tfjs's wasm backend runs single-threaded, as in Node (the
 * page's MIDI bytes then equal the CLI's). `--port N` (default 8080; 0 picks a free port).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.mp3': 'audio/mpeg',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

/** Serves the files of `root`; resolves once listening. `onFile` hears of each file sent (path, bytes). */
export function serveStatic(root: string, port = 8080, host = '127.0.0.1', onFile?: (path: string, bytes: number) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const st = statSync(file);
    const size = st.size;
    // Revalidated on every use: a worker started again (after Stop) gets the model as a 304, not 7 MB again.
    const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'no-cache' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, etag, 'cache-control': 'no-cache' });
    if (req.method !== 'HEAD') onFile?.(path, size);
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      resolve({ server, url: `http://${host}:${p}/` });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('../dist/web', import.meta.url));
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  if (!existsSync(join(root, 'index.html'))) {
    process.stderr.write('web: dist/web/index.html not found: run npm run build:web first\n');
    process.exit(1);
  }
  const { url } = await serveStatic(root, port);
  process.stdout.write(`web studio: ${url} (Ctrl-C to stop)\n`);
}
