package fleet

import (
	"fmt"
	"strings"
)

// KeyPrefix is the Consul KV folder holding one profile per fleet, under
// the node.cluster its proxies share: switchyard/fleets/<cluster>.
const KeyPrefix = "switchyard/fleets/"

// Key is the Consul KV key of the profile of cluster.
func Key(cluster string) string { return KeyPrefix + cluster }

// CheckCluster checks the name of a fleet, the node.cluster of its
// proxies, which becomes the last segment of a KV key: 1–128 letters,
// digits, '-', '_' and '.', as every other name of a profile. A leading
// '.' is refused: "." and ".." would name another key once an HTTP
// client cleans the path.
func CheckCluster(cluster string) error {
	if err := checkName(cluster); err != nil {
		return err
	}
	if strings.HasPrefix(cluster, ".") {
		return fmt.Errorf("%q starts with '.'", cluster)
	}
	return nil
}
