/** Pagoda for Netty: a ByteBufAllocator whose direct buffers are Pagoda memory. */
module io.pagoda.netty {
    requires transitive io.pagoda;
    requires transitive io.netty.buffer;
    requires io.netty.common;

    exports io.pagoda.netty;
}
