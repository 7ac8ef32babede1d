// The service descriptors of Qdrant's gRPC API, as shipped (generated from Qdrant's .proto files)
// in @qdrant/js-client-grpc. The package's entry point exports the messages and the `Qdrant`
// service but not `Points` / `Collections`, and its "exports" map hides the generated files, so
// they are loaded by file URL next to the entry point: the very modules the client uses (same
// message schemas, same runtime), served here instead of called.
import { Qdrant } from '@qdrant/js-client-grpc';
import type { Collections as CollectionsService } from '../../../node_modules/@qdrant/js-client-grpc/dist/types/proto/collections_service_pb.js';
import type { Points as PointsService } from '../../../node_modules/@qdrant/js-client-grpc/dist/types/proto/points_service_pb.js';

const entry = import.meta.resolve('@qdrant/js-client-grpc');
const generated = (file: string) => new URL(`./proto/${file}`, entry).href;

export const Points = ((await import(generated('points_service_pb.js'))) as { Points: typeof PointsService })
  .Points;
export const Collections = (
  (await import(generated('collections_service_pb.js'))) as { Collections: typeof CollectionsService }
).Collections;
export { Qdrant };

// The filter and id messages points.proto uses come from qdrant_common.proto; the package's entry
// point exports an older common.proto's messages of the same names instead (structurally
// different: no `prefix` match), so their types are taken from the generated file too.
export type {
  Condition,
  Filter,
  Match,
  PointId,
} from '../../../node_modules/@qdrant/js-client-grpc/dist/types/proto/qdrant_common_pb.js';
