/* One process at a time on a data directory: `tern serve` holds an
 * exclusive flock(2) on data_dir/tern.lock for as long as it runs, and
 * `tern restore` (whole) takes the same lock, so it cannot replace the
 * files under a running server.  flock locks go with the process: a
 * server killed by SIGKILL or a power cut leaves nothing to clean up. */
#ifndef TERN_LOCKFILE_H
#define TERN_LOCKFILE_H

#define LOCKFILE_NAME "tern.lock"

/* Opens (creating it 0600) dir/tern.lock and takes an exclusive lock
 * without waiting.  Returns 0 with the descriptor in *fd_out (the caller
 * keeps it open as long as it needs the lock and closes it), 1 when
 * another process holds the lock, or -1 with a static or thread-local
 * reason in *error_out. */
int lockfile_take(const char *dir, int *fd_out, const char **error_out);

#endif
