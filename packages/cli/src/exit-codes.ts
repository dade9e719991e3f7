/** The exit codes of every elfcopy command. */
export const EXIT_OK = 0;
/** The closure is incomplete (a library is missing), or a check found problems. */
export const EXIT_INCOMPLETE = 1;
/** Bad usage or bad input: not ELF, unreadable, malformed, a bad jail (or one another elfcopy run is changing). */
export const EXIT_BAD_INPUT = 2;
/** The jail's file system refused a write — or an output's (image, SBOM): read-only, full, over quota, permission, I/O error. */
export const EXIT_JAIL_IO = 3;
/** The reader of standard output closed it early (EPIPE): 128 + SIGPIPE, as a program the signal ends. */
export const EXIT_SIGPIPE = 141;
