// Kept for the modules outside the sink that name collections (ops/status, plan): the Qdrant
// collection rules live in qdrant/collections.ts.
export { collectionName, dimensionProblem, resolveDistance, type Distance } from './qdrant/collections.js';
