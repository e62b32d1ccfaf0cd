/**
 * Per-thread page caches in front of the zones: the kernel's per-CPU page lists, kept per thread
 * ({@link io.pagoda.pcp.ThreadCaches}), with batched refills and drains under one zone-lock
 * acquisition, a lock-free drain protocol for other threads' caches ({@link io.pagoda.pcp.OwnedCache}),
 * shared striped caches for virtual threads, and a reaper for dead and idle threads' caches.
 *
 * <h2>Access modes</h2>
 * Fields touched by more than one thread are accessed through VarHandles, and the mode is named at
 * each access: {@code setOpaque}/{@code getAcquire}/{@code setRelease}/{@code setVolatile}; the
 * comment at the access says which access it pairs with. Cache contents are plain: they are only
 * ever touched by the one thread that holds the cache under the protocol.
 *
 * <p>Depends on {@code io.pagoda.buddy} and {@code io.pagoda.region}. Locks: a zone's lock (one
 * at a time, for bulk moves), the drain lock (drainers only), and a shared cache's try-lock.
 */
package io.pagoda.pcp;
