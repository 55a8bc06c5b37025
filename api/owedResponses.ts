import http from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorCode, MiraiError } from '../domain/errors';
import { errorBody } from './errorResponse';

/**
 * The responses each connection still owes, oldest first, so that a
 * connection is closed only after it has answered every request the app
 * was given. Node on its own closes a keep-alive connection too early in
 * two cases, each leaving requests the app carried out (orders placed)
 * unanswered:
 * - a malformed request, or data after `Connection: close`, arriving
 *   behind requests still being answered: Node writes a bare 400 and
 *   destroys the socket;
 * - a graceful stop that marks every unanswered response `Connection:
 *   close`: the connection ends after the first of several pipelined
 *   ones.
 * A client that closes its side of the connection (FIN) is taken as
 * gone, as Node and nginx take it: what it was waiting for is counted
 * as 499 and not answered.
 *
 * Here, a connection that must close is closed after its last owed
 * response; a request read from it after that point is never given to
 * the app. A malformed request with nothing owed gets its 400 (or 408,
 * 413, 431) in the API's error format.
 */
export class OwedResponses {
  private readonly owed = new Map<Socket, http.ServerResponse[]>();
  /** Connections to end once they owe nothing. */
  private readonly closing = new WeakSet<Socket>();
  /** Connections ended by us: nothing more is read from them. */
  private readonly ended = new WeakSet<Socket>();
  private stopping = false;

  /** Responses owed over all connections. */
  get size(): number {
    let count = 0;
    for (const responses of this.owed.values()) count += responses.length;
    return count;
  }

  /**
   * The request listener to serve `app` with: it gives the app every
   * request but those read from a connection already closing behind
   * an answer that cannot be moved.
   */
  admitting(app: http.RequestListener): http.RequestListener {
    return (req, res) => {
      if (this.admit(req.socket, res)) app(req, res);
    };
  }

  /** Takes over what `server` does with requests it cannot parse. */
  watch(server: http.Server): void {
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
      this.onClientError(error, socket),
    );
  }

  /**
   * A graceful stop: from now on each connection closes once it owes
   * nothing, the one it is answering last carrying `Connection: close`.
   */
  closeAll(): void {
    this.stopping = true;
    for (const socket of this.owed.keys()) this.closeAfterOwed(socket);
  }

  private admit(socket: Socket, res: http.ServerResponse): boolean {
    if (this.ended.has(socket)) return false;
    const responses = this.owed.get(socket) ?? [];
    if (this.stopping || this.closing.has(socket)) {
      const last = responses.at(-1);
      // That answer's headers, Connection: close or keep-alive, are
      // written: the connection ends after it, before this one's.
      if (last?.headersSent) return false;
      last?.removeHeader('Connection');
      res.setHeader('Connection', 'close');
      this.closing.add(socket);
    }
    responses.push(res);
    this.owed.set(socket, responses);
    res.once('close', () => this.answered(socket, res));
    return true;
  }

  private answered(socket: Socket, res: http.ServerResponse): void {
    const responses = this.owed.get(socket);
    const at = responses ? responses.indexOf(res) : -1;
    if (!responses || at === -1) return;
    responses.splice(at, 1);
    if (responses.length > 0) return;
    this.owed.delete(socket);
    if (this.stopping || this.closing.has(socket)) this.end(socket);
  }

  private closeAfterOwed(socket: Socket): void {
    this.closing.add(socket);
    const last = this.owed.get(socket)?.at(-1);
    if (!last) this.end(socket);
    else if (!last.headersSent) last.setHeader('Connection', 'close');
    // Else it is answered already: `answered` ends the connection.
  }

  private end(socket: Socket): void {
    this.ended.add(socket);
    socket.end();
  }

  private onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || CLIENT_GONE.has(error.code ?? '')) {
      socket.destroy();
      return;
    }
    const [status, code, message] = clientErrorAnswer(error.code);
    const body = JSON.stringify(errorBody(new MiraiError(code, message)));
    const last = this.owed.get(socket)?.at(-1);
    if (last && !last.req.complete && !last.headersSent) {
      // The request being read broke off (or ran out of time): it is
      // answered with the error, after those read before it.
      this.closing.add(socket);
      last.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        Connection: 'close',
      });
      last.end(body);
      return;
    }
    if (last) {
      // Nothing more can be read; answer what was read first.
      this.closeAfterOwed(socket);
      return;
    }
    this.ended.add(socket);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
}

/** Client errors that mean the client is gone: nothing can reach it. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

/** Node's own status for a request it cannot parse, with our code. */
const clientErrorAnswer = (
  nodeCode: string | undefined,
): [number, ErrorCode, string] => {
  switch (nodeCode) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'INVALID_REQUEST', 'Request headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'PAYLOAD_TOO_LARGE', 'Chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'INVALID_REQUEST', 'The request did not arrive in time'];
    default:
      return [400, 'INVALID_REQUEST', 'Malformed HTTP request'];
  }
};
