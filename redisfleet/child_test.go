package redisfleet

const childEnv = "REDISFLEET_TEST_CHILD"

func runChild() int { return 0 }
