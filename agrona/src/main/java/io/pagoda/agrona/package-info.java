/**
 * Agrona views of Pagoda memory: {@link io.pagoda.agrona.AgronaBuffers#wrap} turns a segment into
 * an {@link org.agrona.concurrent.UnsafeBuffer}, and {@link io.pagoda.agrona.PagodaDirectBuffers}
 * hands out buffers from a {@link io.pagoda.PageAllocator} and takes them back.
 *
 * {@snippet lang=java :
 * try (PageAllocator pages = PageAllocator.builder().capacity(64L << 30).build()) {
 *     PagodaDirectBuffers buffers = new PagodaDirectBuffers(pages);
 *     UnsafeBuffer buffer = buffers.allocate(4096);
 *     buffer.putLong(0, 42L);
 *     buffers.release(buffer);
 * }
 * }
 *
 * <p>Agrona 2.x reaches {@code jdk.internal.misc.Unsafe}: a process that uses these buffers needs
 * {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} on the class path
 * ({@code =org.agrona} on the module path), beside Pagoda's own
 * {@code --enable-native-access=ALL-UNNAMED} ({@code =io.pagoda}).
 */
package io.pagoda.agrona;
