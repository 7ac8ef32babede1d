// qdrant.Collections and qdrant.Qdrant over the server's model: create / update bodies become the
// REST bodies Collection.create and updateCollection parse (Qdrant converts both fronts into the
// same CollectionMetaOperations: lib/storage/src/content_manager/conversions.rs), and the
// collection info of GET /collections/{name} is answered as a CollectionInfo.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import {
  CollectionInfoSchema,
  CreateCollectionSchema,
  UpdateCollectionSchema,
  type AliasOperations,
} from '@qdrant/js-client-grpc';
import { parseAliasActions } from '../aliases.js';
import { Collection, type Store } from '../collections.js';
import { isObject, type JsonObject, type JsonValue } from '../json.js';
import { updateCollection } from '../update-collection.js';
import { fromRest, toRest } from './reflect.js';
import type { Collections, Qdrant } from './services.js';

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** VectorParams in REST form: its datatype in lowercase ("float32"), as REST spells it. */
function vectorParams(v: JsonValue | undefined): JsonValue | undefined {
  if (!isObject(v)) return v;
  return typeof v.datatype === 'string' ? { ...v, datatype: v.datatype.toLowerCase() } : v;
}

/** A vectors_config oneof ({params} | {params_map: {map}}) as REST's `vectors`. */
function vectorsOf(
  config: JsonValue | undefined,
  single: (v: JsonValue) => JsonValue,
): JsonValue | undefined {
  if (!isObject(config)) return undefined;
  if (config.params !== undefined) return single(config.params);
  const map = isObject(config.params_map) ? config.params_map.map : undefined;
  if (!isObject(map)) return {};
  return Object.fromEntries(Object.entries(map).map(([n, v]) => [n, vectorParams(v) ?? null]));
}

/** CreateCollection → the PUT /collections/{name} body. */
function createBody(msg: Parameters<typeof toRest>[1]): JsonObject {
  const {
    collection_name: _,
    timeout: __,
    vectors_config,
    sparse_vectors_config,
    ...rest
  } = toRest(CreateCollectionSchema, msg);
  const out: JsonObject = rest;
  const vectors = vectorsOf(vectors_config, (v) => vectorParams(v) ?? null);
  if (vectors !== undefined) out.vectors = vectors;
  if (isObject(sparse_vectors_config)) out.sparse_vectors = sparse_vectors_config.map ?? {};
  return out;
}

/** UpdateCollection → the PATCH /collections/{name} body. */
function updateBody(msg: Parameters<typeof toRest>[1]): JsonObject {
  const {
    collection_name: _,
    timeout: __,
    vectors_config,
    sparse_vectors_config,
    quantization_config,
    ...rest
  } = toRest(UpdateCollectionSchema, msg);
  const out: JsonObject = rest;
  const vectors = vectorsOf(vectors_config, (v) => ({ '': v }));
  if (vectors !== undefined) out.vectors = vectors;
  if (isObject(sparse_vectors_config)) out.sparse_vectors = sparse_vectors_config.map ?? {};
  if (isObject(quantization_config))
    out.quantization_config = 'disabled' in quantization_config ? 'Disabled' : quantization_config;
  return out;
}

/** The REST collection info (collections.ts Collection.info) as a CollectionInfo. */
function infoToProto(c: Collection): MessageInitShape<typeof CollectionInfoSchema> {
  const info = c.info() as JsonObject;
  const config = info.config as JsonObject;
  const params = config.params as JsonObject;
  const vectors = params.vectors as JsonObject;
  const vectorsConfig: JsonObject = c.schema.single ? { params: vectors } : { params_map: { map: vectors } };
  const payloadSchema = Object.fromEntries(
    Object.entries(info.payload_schema as JsonObject).map(([k, v]) => {
      const { params: _, ...schema } = v as JsonObject;
      return [k, schema];
    }),
  );
  const json: JsonObject = {
    ...info,
    optimizer_status: { ok: info.optimizer_status === 'ok', error: '' },
    payload_schema: payloadSchema,
    config: {
      ...config,
      params: {
        ...params,
        vectors_config: vectorsConfig,
        sparse_vectors_config: isObject(params.sparse_vectors) ? { map: params.sparse_vectors } : null,
      },
    },
  };
  return fromRest(CollectionInfoSchema, json) as MessageInitShape<typeof CollectionInfoSchema>;
}

function aliasAction(a: AliasOperations): JsonValue {
  const o = a.action;
  switch (o.case) {
    case 'createAlias':
      return { create_alias: { collection_name: o.value.collectionName, alias_name: o.value.aliasName } };
    case 'renameAlias':
      return { rename_alias: { old_alias_name: o.value.oldAliasName, new_alias_name: o.value.newAliasName } };
    case 'deleteAlias':
      return { delete_alias: { alias_name: o.value.aliasName } };
    default:
      return {};
  }
}

export function collectionsService(store: Store): Partial<ServiceImpl<typeof Collections>> {
  const timed = <T>(fn: () => T) => {
    const start = process.hrtime.bigint();
    const result = fn();
    return { result, time: seconds(start) };
  };
  return {
    get: (req) => timed(() => infoToProto(store.get(req.collectionName))),
    list: () => {
      const start = process.hrtime.bigint();
      return { collections: store.names().map((name) => ({ name })), time: seconds(start) };
    },
    create: (req) =>
      timed(() => {
        store.add(Collection.create(req.collectionName, createBody(req)));
        return true;
      }),
    update: (req) => timed(() => updateCollection(store.get(req.collectionName), updateBody(req))),
    delete: (req) => timed(() => store.delete(req.collectionName)),
    collectionExists: (req) => timed(() => ({ exists: store.has(req.collectionName) })),
    updateAliases: (req) =>
      timed(() => {
        store.changeAliases(parseAliasActions({ actions: req.actions.map(aliasAction) }));
        return true;
      }),
    listAliases: () => {
      const start = process.hrtime.bigint();
      const aliases = store
        .listAliases()
        .map((a) => ({ aliasName: a.alias_name, collectionName: a.collection_name }));
      return { aliases, time: seconds(start) };
    },
    listCollectionAliases: (req) => {
      const start = process.hrtime.bigint();
      const name = req.collectionName;
      const aliases = store.aliases
        .of(name)
        .sort()
        .map((alias) => ({ aliasName: alias, collectionName: name }));
      return { aliases, time: seconds(start) };
    },
  };
}

export function qdrantService(version: string): Partial<ServiceImpl<typeof Qdrant>> {
  return { healthCheck: () => ({ title: 'qdrant - vector search engine', version }) };
}
