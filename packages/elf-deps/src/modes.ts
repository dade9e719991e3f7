/** File mode bits (st_mode), named. */
export const S_ISUID_BIT = 0o4000;
export const S_ISGID_BIT = 0o2000;
