import Foundation
public import KithModel

/// Turns a person's own notes (a folder of Markdown or text files) into memories: one per
/// paragraph or list item, tagged from the headings above it and the file's name. Imported
/// memories are **private** unless the person says otherwise; bounded in size and count.
public enum NoteImporter {
    /// Largest file read, in bytes.
    public static let maxFileSize = 1 << 20
    /// Most bytes read over all files.
    public static let maxTotalSize = 16 << 20
    /// Shortest paragraph kept, in characters (shorter ones are headings' leftovers or noise).
    public static let minLength = 12

    /// Memories from every `.md`, `.markdown` and `.txt` file under `path` (a folder or one
    /// file), in path order, with `visibility`.
    public static func memories(at path: String, visibility: IdentityModel.Visibility = .private) throws(NodeError) -> [IdentityModel.Memory] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw NodeError("no file or folder \(path): give a folder of .md or .txt notes")
        }
        var files: [String] = []
        if isFolder.boolValue {
            let enumerator = FileManager.default.enumerator(atPath: path)
            while let relative = enumerator?.nextObject() as? String {
                let lower = relative.lowercased()
                if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") || lower.hasSuffix(".txt") { files.append(path + "/" + relative) }
            }
            files.sort()
        } else {
            files = [path]
        }
        var total = 0
        var out: [IdentityModel.Memory] = []
        for file in files {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let size = attributes[.size] as? Int, attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            guard size <= maxFileSize else { throw NodeError("\(file) is larger than \(maxFileSize >> 20) MiB: split it, or leave it out") }
            total += size
            guard total <= maxTotalSize else { throw NodeError("the notes are larger than \(maxTotalSize >> 20) MiB: import a smaller folder") }
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw NodeError("\(file) is not UTF-8 text")
            }
            let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            out += memories(fromText: text, fileTag: name, visibility: visibility)
        }
        return out
    }

    /// Memories from one note's text: paragraphs and list items, tagged with the headings
    /// above them (and `fileTag`).
    public static func memories(fromText text: String, fileTag: String?, visibility: IdentityModel.Visibility) -> [IdentityModel.Memory] {
        var headings: [(level: Int, text: String)] = []
        var paragraph: [String] = []
        var out: [IdentityModel.Memory] = []
        var inCode = false
        func flush() {
            defer { paragraph = [] }
            let joined = paragraph.joined(separator: " ").trimmingCharacters(in: .whitespaces)
            guard joined.count >= minLength else { return }
            var tags: [String] = []
            for source in [fileTag].compactMap({ $0 }) + headings.map(\.text) {
                let tag = tagText(source)
                if !tag.isEmpty && !tags.contains(tag) { tags.append(tag) }
            }
            out.append(.init(text: clip(joined), visibility: visibility, tags: Array(tags.prefix(IdentityModel.Limits.tags))))
        }
        // Any line ending (a CRLF note is one grapheme per line end in Swift).
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            // Code blocks are not memories.
            if line.hasPrefix("```") || line.hasPrefix("~~~") {
                flush()
                inCode.toggle()
                continue
            }
            if inCode { continue }
            if line.isEmpty { flush(); continue }
            if line.hasPrefix("#") {
                flush()
                let level = line.prefix { $0 == "#" }.count
                let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
                headings.removeAll { $0.level >= level }
                if !title.isEmpty { headings.append((level, title)) }
                continue
            }
            if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") {
                flush()
                paragraph = [String(line.dropFirst(2))]
                continue
            }
            if line.hasPrefix("---") { flush(); continue }
            paragraph.append(line)
        }
        flush()
        return out
    }

    /// A heading or file name as a tag: lowercased words, at most the tag length.
    static func tagText(_ text: String) -> String {
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber) }.joined(separator: " ")
        var tag = ""
        for ch in words where (tag + String(ch)).utf8.count <= IdentityModel.Limits.word { tag.append(ch) }
        return tag.trimmingCharacters(in: .whitespaces)
    }

    /// At most the memory length, cut at a sentence or word boundary.
    static func clip(_ text: String) -> String {
        guard text.utf8.count > IdentityModel.Limits.memoryText else { return text }
        var cut = ""
        for ch in text {
            if (cut + String(ch)).utf8.count > IdentityModel.Limits.memoryText - 1 { break }
            cut.append(ch)
        }
        if let end = cut.lastIndex(where: { ".!?".contains($0) }) { return String(cut[...end]) }
        if let space = cut.lastIndex(of: " ") { return String(cut[..<space]) + "…" }
        return cut
    }
}
