package sqlstore

const envReplica = "SQLSTORE_TEST_REPLICA_DSN"

func runReplica() int { return 0 }
