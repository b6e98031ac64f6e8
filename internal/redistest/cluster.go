package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterInstallHint says how to get redis-cli, which creates the cluster.
const ClusterInstallHint = "redis-cli not found on PATH: the cluster tests create a real Redis Cluster with `redis-cli --cluster create`. " +
	"Install it with `apt-get install -y redis-tools` (Debian/Ubuntu), `dnf install redis` (Fedora) or `brew install redis` (macOS), then run the tests again."

// ClusterNodes is the number of masters of StartCluster.
const ClusterNodes = 3

// RedisCluster is a real Redis Cluster of three masters (no replicas), each
// a redis-server --cluster-enabled yes on free loopback ports (client and
// cluster bus), with the 16384 slots split by redis-cli --cluster create.
type RedisCluster struct {
	Nodes []*Server
}

// StartCluster starts the nodes, creates the cluster and waits until every
// node reports cluster_state:ok. Everything is stopped when the test ends.
func StartCluster(t testing.TB) *RedisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("%s (%v)", ClusterInstallHint, err)
	}
	rc := &RedisCluster{}
	for range ClusterNodes {
		bus, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		rc.Nodes = append(rc.Nodes, Start(t, Options{TCP: true, Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", fmt.Sprint(bus), "--cluster-node-timeout", "2000",
		}}))
	}
	args := append(append([]string{"--cluster", "create"}, rc.Addrs()...), "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range rc.Nodes {
		c := n.TCPClient()
		err := poll(ctx, func() (bool, error) {
			info, err := c.ClusterInfo(ctx).Result()
			return strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3"), err
		})
		c.Close()
		if err != nil {
			t.Fatalf("redistest: node %s: cluster not ok: %v\n%s", n.Addr(), err, n.logTail())
		}
	}
	return rc
}

// Addrs returns every node's host:port.
func (rc *RedisCluster) Addrs() []string {
	addrs := make([]string, len(rc.Nodes))
	for i, n := range rc.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns the redis+cluster:// URL naming every node.
func (rc *RedisCluster) URL() string { return "redis+cluster://" + strings.Join(rc.Addrs(), ",") }

// Client returns a new cluster client over every node; the caller closes it.
func (rc *RedisCluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs()})
}

// NodeFor returns the node that owns key's slot.
func (rc *RedisCluster) NodeFor(ctx context.Context, key string) (*Server, error) {
	c := rc.Nodes[0].TCPClient()
	defer c.Close()
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start <= slot && slot <= r.End {
				for _, sn := range sh.Nodes {
					if sn.Role != "master" {
						continue
					}
					for _, n := range rc.Nodes {
						if n.port == int(sn.Port) {
							return n, nil
						}
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("redistest: no node owns slot %d of %q", slot, key)
}
