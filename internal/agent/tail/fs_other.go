//go:build !unix

package tail

import "io/fs"

// devIno has no inode to give off unix: identity then rests on the
// fingerprint alone (see design.md).
func devIno(fs.FileInfo) (uint64, uint64) { return 0, 0 }
