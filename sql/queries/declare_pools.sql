-- declare_pools: pools a DAG declares in code (`pools: { name: slots }`), created when
-- missing; a pool that exists keeps its size (`weir pools set` decides after). $1 name[], $2 slots[]
INSERT INTO weir.pool (name, slots, updated_by)
SELECT p.name, p.slots, 'dag' FROM unnest($1::text[], $2::int[]) AS p(name, slots)
ON CONFLICT (name) DO NOTHING
