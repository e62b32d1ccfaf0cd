/**
 * Pagoda's public API: {@link io.pagoda.PageAllocator}, an off-heap page allocator built like the
 * Linux kernel's buddy allocator, on the Foreign Function &amp; Memory API.
 *
 * {@snippet lang=java :
 * try (PageAllocator pages = PageAllocator.builder().capacity(64L << 30).build()) {
 *     MemorySegment buffer = pages.allocate(16 * 1024); // @highlight substring="allocate"
 *     buffer.set(ValueLayout.JAVA_LONG, 0, 42L);
 *     pages.free(buffer);
 * }
 * }
 *
 * <p>Every process that creates an allocator needs native access for the region's {@code mmap}:
 * {@code --enable-native-access=io.pagoda} on the module path, or
 * {@code --enable-native-access=ALL-UNNAMED} on the class path.
 */
package io.pagoda;
