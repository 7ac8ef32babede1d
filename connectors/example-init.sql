-- The example table of connectors/example.yaml, created by the postgres service of
-- docker-compose.yml on its first start (mounted into /docker-entrypoint-initdb.d/), so
-- `docker compose up` has something to replicate. Replace it with your own tables.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS public.items (
  id bigint PRIMARY KEY,
  title text NOT NULL,
  tags jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  embedding vector(384)
);
-- The index tells vecrelay the distance (cosine → Qdrant Cosine) and HNSW parameters.
CREATE INDEX IF NOT EXISTS items_embedding_idx ON public.items USING hnsw (embedding vector_cosine_ops);

INSERT INTO public.items (id, title, tags, embedding)
SELECT g, 'item ' || g, jsonb_build_array('example'),
       (SELECT array_agg(random()::real) FROM generate_series(1, 384) WHERE g > 0)::vector
  FROM generate_series(1, 1000) g
ON CONFLICT (id) DO NOTHING;
