/**
 * Observability: the kernel's text reports (/proc/buddyinfo, and later pagetypeinfo and
 * zoneinfo), built from snapshots the buddy core takes under each zone's lock.
 *
 * <p>Depends on {@code io.pagoda.buddy}. Not on any hot path; it may allocate freely.
 */
package io.pagoda.stats;
