import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes the connection once a response that says `Connection: close` has been written.
///
/// Hummingbird closes a connection after a response only when the *request* asked for it. A
/// `CONNECT` request makes the HTTP/1.1 parser treat everything after its head as tunnel bytes, so
/// after the server refuses it the connection can carry nothing more — yet it would stay open until
/// the idle timeout. The responder marks such refusals `Connection: close`; this handler, on the
/// HTTP-part side of the pipeline, closes the channel when the end of that response is flushed.
final class CloseAfterResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterEnd = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        switch part {
        case .head(let head):
            closeAfterEnd = head.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterEnd else { context.write(data, promise: promise); return }
            closeAfterEnd = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in ctx.value.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
        }
    }
}
