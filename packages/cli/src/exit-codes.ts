/** The exit codes of every elfcopy command. */
export const EXIT_OK = 0;
/** The closure is incomplete (a library is missing), or a check found problems. */
export const EXIT_INCOMPLETE = 1;
/** Bad usage or bad input: not ELF, unreadable, malformed, a bad jail. */
export const EXIT_BAD_INPUT = 2;
