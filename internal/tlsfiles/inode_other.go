//go:build !unix

package tlsfiles

import "io/fs"

// inodeOf returns 0 where files have no inode number: only the
// modification time and size tell a change.
func inodeOf(fs.FileInfo) uint64 { return 0 }
