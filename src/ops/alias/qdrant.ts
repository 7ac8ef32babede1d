// Qdrant's collection aliases, as `cutover --alias` and `rollback` use them (docs/qdrant.md
// "Aliases"): the list of aliases, the list of collections, and one POST /collections/aliases
// that moves an alias. Qdrant runs a request's actions in order under one lock, so no read sees
// the alias missing between the delete and the create; but an action that fails keeps the ones
// before it — a create that fails after its delete leaves no alias. So the move is checked first
// (the collection exists, the alias is not a collection's name), and checked after.
import type { LoadedConfig } from '../../config/load.js';
import { ConfigError, messageOf } from '../../shared/errors.js';
import { QdrantError } from '../../sink/qdrant/errors.js';
import { QdrantHttp } from '../../sink/qdrant/http.js';

/** A move refused for a reason the operator must fix (exit 1 at the command, nothing changed). */
export class AliasRefused extends Error {}

export class QdrantAliases {
  private readonly http: QdrantHttp;
  private readonly where: string;

  constructor(config: LoadedConfig) {
    if (!config.qdrant) throw new ConfigError(`${config.file}: qdrant: aliases need qdrant.url`);
    this.http = new QdrantHttp({
      url: config.qdrant.url,
      apiKey: config.qdrantApiKey,
      caFile: config.qdrant.caFile,
      timeoutMs: 30_000,
    });
    this.where = `Qdrant at ${config.qdrant.url} (qdrant.url)`;
  }

  close(): void {
    this.http.close();
  }

  /** A request; a server that does not answer or refuses the key is a ConfigError (exit 2). */
  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    try {
      return await this.http.request(method, path, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      if (!(err instanceof QdrantError) || err.status === null)
        throw new ConfigError(`${this.where}: ${messageOf(err)}: check its address and that it runs`, {
          cause: err,
        });
      if (err.status === 401 || err.status === 403)
        throw new ConfigError(
          `${this.where} refused the API key (HTTP ${err.status}): check qdrant.apiKeyEnv`,
        );
      throw err;
    }
  }

  /** The collection `alias` points at; undefined when there is no such alias. */
  async target(alias: string): Promise<string | undefined> {
    const { aliases } = (await this.call('GET', '/aliases')) as {
      aliases: Array<{ alias_name: string; collection_name: string }>;
    };
    return aliases.find((a) => a.alias_name === alias)?.collection_name;
  }

  /** Whether a collection of that very name exists (an alias is not one: GET /collections). */
  async isCollection(name: string): Promise<boolean> {
    const { collections } = (await this.call('GET', '/collections')) as {
      collections: Array<{ name: string }>;
    };
    return collections.some((c) => c.name === name);
  }

  /** Throws AliasRefused when `alias` cannot point at `collection`. */
  async checkMove(alias: string, collection: string): Promise<void> {
    if (alias === collection)
      throw new AliasRefused(`alias ${alias} would have the name of the collection it points at`);
    if (await this.isCollection(alias))
      throw new AliasRefused(
        `alias ${alias}: a collection of that name exists, and Qdrant does not let an alias take a ` +
          `collection's name: move the application to another alias name, or sync into a collection ` +
          `of another name and drop ${alias} once nothing reads it`,
      );
    if (!(await this.isCollection(collection)))
      throw new AliasRefused(`alias ${alias}: collection ${collection} does not exist in Qdrant`);
  }

  /**
   * Points `alias` at `collection` in one request (delete + create: no reader sees it missing).
   * Returns where it pointed before (undefined: nowhere).
   */
  async move(alias: string, collection: string): Promise<string | undefined> {
    await this.checkMove(alias, collection);
    const before = await this.target(alias);
    try {
      await this.call('POST', '/collections/aliases', {
        actions: [
          { delete_alias: { alias_name: alias } },
          { create_alias: { collection_name: collection, alias_name: alias } },
        ],
      });
    } catch (err) {
      const now = await this.target(alias).catch(() => before);
      // No answer, but applied (a timeout, a 5xx after the work was done): moved all the same.
      if (now === collection) return before;
      // The create failed after the delete (the collection went away meanwhile): put it back.
      if (before !== undefined && now === undefined)
        await this.call('POST', '/collections/aliases', {
          actions: [{ create_alias: { collection_name: before, alias_name: alias } }],
        }).catch(() => {});
      // Refused (the collection went away, or a collection took the alias's name, since the check).
      if (err instanceof QdrantError && err.status !== null && err.status < 500)
        throw new AliasRefused(`alias ${alias}: ${err.message}`);
      throw err;
    }
    const now = await this.target(alias);
    if (now !== collection)
      throw new Error(
        `alias ${alias}: Qdrant accepted the move to ${collection}, but it points at ${now ?? 'nothing'}`,
      );
    return before;
  }
}
