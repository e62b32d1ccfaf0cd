/**
 * Observability: the kernel's text reports (/proc/buddyinfo, pagetypeinfo, zoneinfo,
 * extfrag/unusable_index, slabinfo), and the zones' figures added up for the MXBean ({@link
 * io.pagoda.stats.ZoneTotals}), built from snapshots the buddy core takes under each zone's lock.
 *
 * <p>Depends on {@code io.pagoda.buddy}. Not on any hot path; it may allocate freely.
 */
package io.pagoda.stats;
