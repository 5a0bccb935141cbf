//go:build unix

package tlsfiles

import (
	"io/fs"
	"syscall"
)

// inodeOf returns a file's inode number.
func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
