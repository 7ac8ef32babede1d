// A TCP port nothing listens on right now (for a scratch cluster, a metrics server...): the OS
// picks it for a moment's listener. Another process could take it before the caller does.
import { createServer, type AddressInfo } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
