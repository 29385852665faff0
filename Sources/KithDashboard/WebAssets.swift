/// The web app, compiled into the binary (`Web/`): the page loads nothing from elsewhere.
enum WebAssets {
    static var index: [UInt8] { PackageResources.index_html }
    static var script: [UInt8] { PackageResources.app_js }
    static var style: [UInt8] { PackageResources.app_css }
}
