-- admitted_of: which of these runs hold (or held) a slot, whoever admitted them. $1 run_id[]
SELECT run_id FROM weir.dag_run WHERE run_id = ANY($1::text[]) AND admitted
