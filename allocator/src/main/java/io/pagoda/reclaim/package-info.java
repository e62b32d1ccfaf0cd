/**
 * Reclaim: getting memory back when a zone runs low (the kernel's kswapd, direct reclaim and
 * shrinkers). {@link io.pagoda.reclaim.Shrinkers} holds the callbacks of users' caches that can
 * free memory on demand; {@link io.pagoda.reclaim.Reclaimer} is the background thread that zones
 * wake below their low watermark and that works until they are above high again.
 *
 * <p>The reclaimer records each run ({@code io.pagoda.ReclaimerRun}), and the shrinkers each direct
 * reclaim ({@code io.pagoda.DirectReclaim}), as JFR events, defined here because only this layer
 * knows their figures, and no layer above may be depended upon.
 *
 * <p>Depends on {@code io.pagoda.buddy} (and on {@code io.pagoda.pcp} for a thread helper).
 * Nothing here is on a fast path.
 */
package io.pagoda.reclaim;
