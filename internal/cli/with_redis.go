package cli

// WithRedis runs f with a client for --redis (RedisBlocking when blocking,
// else Redis) and closes it when f returns. A client that cannot be made
// is reported with Errorf: exit 1.
func (c *Invocation) WithRedis(blocking bool, f func(rdb RedisClient) int) int {
	open := c.Redis
	if blocking {
		open = c.RedisBlocking
	}
	rdb, err := open()
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer rdb.Close()
	return f(rdb)
}
