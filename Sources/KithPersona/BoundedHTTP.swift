import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP exchange whose answer is read at most `limit` bytes far: a longer one (announced or
/// streamed) is cut off and refused as it arrives, never held whole.
enum BoundedHTTP {
    struct TooLarge: Error, CustomStringConvertible {
        let limit: Int
        var description: String { "the answer is larger than \(limit) bytes" }
    }

    /// Sends `request`; the status and at most `limit` bytes of body.
    static func data(for request: URLRequest, limit: Int) async throws -> (Data, HTTPURLResponse) {
        let reader = Reader(limit: limit)
        let session = URLSession(configuration: .ephemeral, delegate: reader, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                reader.start(task, continuation)
            }
        } onCancel: {
            task.cancel()
        }
    }

    private final class Reader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let limit: Int
        private let lock = NSLock()
        private var body = Data()
        private var response: HTTPURLResponse?
        private var tooLarge = false
        private var continuation: CheckedContinuation<(Data, HTTPURLResponse), any Error>?

        init(limit: Int) { self.limit = limit }

        func start(_ task: URLSessionDataTask, _ continuation: CheckedContinuation<(Data, HTTPURLResponse), any Error>) {
            lock.withLock { self.continuation = continuation }
            task.resume()
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
            let http = response as? HTTPURLResponse
            let announced = response.expectedContentLength
            lock.withLock {
                self.response = http
                if announced > Int64(limit) { tooLarge = true }
            }
            completionHandler(http == nil || announced > Int64(limit) ? .cancel : .allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let over = lock.withLock {
                if body.count + data.count > limit {
                    tooLarge = true
                    body = Data()
                    return true
                }
                body.append(data)
                return false
            }
            if over { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            let (continuation, result): (CheckedContinuation<(Data, HTTPURLResponse), any Error>?, Result<(Data, HTTPURLResponse), any Error>) = lock.withLock {
                defer { self.continuation = nil }
                if tooLarge { return (self.continuation, .failure(TooLarge(limit: limit))) }
                if let error { return (self.continuation, .failure(error)) }
                guard let response else { return (self.continuation, .failure(URLError(.badServerResponse))) }
                return (self.continuation, .success((body, response)))
            }
            continuation?.resume(with: result)
        }
    }
}
