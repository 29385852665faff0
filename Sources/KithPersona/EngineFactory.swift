import Foundation
public import KithModel

/// Builds the engine an identity model asks for.
public enum EngineFactory {
    /// The engine for `model`; relative script paths are resolved against `baseDirectory`.
    public static func make(for model: IdentityModel, baseDirectory: String) throws -> any PersonaEngine {
        switch model.engine.kind {
        case .script:
            guard let script = model.engine.script else { throw PersonaError("engine.script is required for kind script") }
            let path = script.hasPrefix("/") ? script : baseDirectory + "/" + script
            return try ScriptEngine(path: path)
        case .embedded:
            return EmbeddedEngine(seed: model.engine.seed ?? 0)
        case .openai:
            guard let url = model.engine.url.flatMap(URL.init(string:)), let name = model.engine.model else {
                throw PersonaError("engine.url and engine.model are required for kind openai")
            }
            let key = model.engine.apiKeyEnv.flatMap { ProcessInfo.processInfo.environment[$0] }
            return OpenAIEngine(baseURL: url, model: name, apiKey: key)
        }
    }
}
