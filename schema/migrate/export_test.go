package migrate

// ClusterQueries renders every embedded statement, bootstrap included, for
// a cluster, as Apply would send them.
func ClusterQueries(db, cluster string) ([]string, error) {
	migs, err := Load(defaultFS)
	if err != nil {
		return nil, err
	}
	queries := bootstrapQueries(db, cluster)
	for _, m := range migs {
		for _, st := range m.parsed {
			steps, err := st.plan(db, cluster)
			if err != nil {
				return nil, err
			}
			for _, s := range steps {
				if s.swap != nil {
					engine := "Distributed(" + literal(cluster) + ", " + literal(db) + ", " + literal(s.swap.local) + ", rand())"
					queries = append(queries, s.swap.queries(engine)...)
					continue
				}
				queries = append(queries, s.sql)
			}
		}
	}
	return queries, nil
}
