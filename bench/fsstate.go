package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Deleting a tree slows the file creation that follows on ext4 without a
// journal (as on this project's VMs): its inode allocator skips inodes
// deleted in the last 60 s (300 s while their inode table block is dirty),
// reading each one's dtime (fs/ext4/ialloc.c, recently_deleted; perf shows
// it with find_get_block_common on top of an import's kernel time).
// Measured: `imgtool import --no-sync` of the debootstrap rootfs 1.26 s
// with nothing deleted for 70 s, 2.63 s right after two such trees were
// deleted; `tar -xf` 0.59 s → 0.71 s. A run would pay for whatever the run
// before it deleted, so the bench deletes no big tree while it measures:
// trees are moved to work/trash (discard) and removed at the end, and the
// load daemon restarts on an empty data root instead of `docker rmi`.

// manyFiles is the size from which a tree is kept in the trash: smaller
// trees (a few 64 MiB files) leave too few inodes behind to matter, and
// keeping them would fill the disk.
const manyFiles = 1000

var trashSeq atomic.Int64

// discard moves a tree of many files into work/trash; anything smaller is
// removed at once.
func (e *benchEnv) discard(path string) error {
	return discardInto(filepath.Join(e.work, "trash"), path)
}

// discardInto moves a tree of many files into trash (a directory on the
// same filesystem, removed when the measuring is over); anything smaller is
// removed at once.
func discardInto(trash, path string) error {
	if countEntries(path, manyFiles) < manyFiles {
		return os.RemoveAll(path)
	}
	if err := os.MkdirAll(trash, 0o755); err != nil {
		return err
	}
	to := filepath.Join(trash, fmt.Sprint(trashSeq.Add(1)))
	if err := os.Rename(path, to); err != nil {
		return os.RemoveAll(path) // another filesystem: delete after all
	}
	return nil
}

// countEntries counts the entries under path, stopping at limit.
func countEntries(path string, limit int) int {
	n := 0
	filepath.WalkDir(path, func(_ string, _ fs.DirEntry, err error) error {
		n++
		if n >= limit {
			return filepath.SkipAll
		}
		return nil
	})
	return n
}

// hasJournal reports whether the filesystem holding dir is ext4 with a
// journal (jbd2 lists it under /proc/fs/jbd2/DEV-*), or not ext4 at all:
// only ext4 without a journal skips recently deleted inodes.
func hasJournal(dir string) bool {
	var sfs unix.Statfs_t
	if unix.Statfs(dir, &sfs) != nil || sfs.Type != unix.EXT4_SUPER_MAGIC {
		return true
	}
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return true
	}
	dev, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return true
	}
	m, _ := filepath.Glob("/proc/fs/jbd2/" + filepath.Base(dev) + "-*")
	return len(m) > 0
}

// settle syncs and, on ext4 without a journal, waits out the window in
// which inodes deleted before the bench (an old work dir, image builds)
// would slow the first runs' file creation.
func settle(work string) {
	run("", "sync")
	if hasJournal(work) {
		return
	}
	logf2("ext4 without a journal: waiting 65 s so that no recently deleted inode slows the first runs")
	time.Sleep(65 * time.Second)
}

// settleNote says how the runs started, for the report.
func settleNote(work string, smoke bool) string {
	if smoke {
		return "right away (a smoke run measures nothing)"
	}
	if hasJournal(work) {
		return "after a sync (this filesystem has a journal: deletions do not slow creation)"
	}
	return "65 s after the last deletion of the preparation (this ext4 has no journal)"
}

// pageIdle is how long the scale table waits before each command when the
// guest reports free pages to its hypervisor: the pages of a file just
// deleted are reused cheaply for ~4 s, then cost ~2 s of system time a
// GiB to fault back in (docs/performance.md, "Two traps of this VM"). One
// run each, in a fixed order, let every command after a deletion write
// cheaply and the first one after a pause pay (export of 1 GiB: 0.9 s
// right after save's output was deleted, 2.8 s after an idle pause);
// waiting before each puts every command on the same footing.
const pageIdle = 6 * time.Second

// pageReportingOn reports whether free-page reporting is active.
func pageReportingOn() bool {
	_, err := os.Stat("/sys/module/page_reporting/parameters/page_reporting_order")
	return err == nil
}

// idleForPages waits pageIdle when page reporting is on (see pageIdle).
func idleForPages(int) error {
	if pageReportingOn() {
		time.Sleep(pageIdle)
	}
	return nil
}
