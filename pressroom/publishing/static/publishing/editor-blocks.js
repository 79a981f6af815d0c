// Pressroom's blocks for the article body editor (django-prose-editor, Tiptap).
//
// The editor keeps only what its schema knows; whatever the HTML cleaner allows
// (pressroom/publishing/html.py) therefore has a node, a mark or an attribute here, so that
// opening an article and saving it loses nothing. publishing/tests/test_editor_round_trip.py
// proves it in chromium for every element and attribute the cleaner allows.
//
// Blocks for writers: an image, a gallery, audio and video from the media library; an embed
// from a pasted address; a pull quote; details/summary.
import {
  Extension,
  Figure as BaseFigure,
  Caption as BaseCaption,
  Mark,
  Node,
  Table as BaseTable,
  updateAttrsDialog,
} from "django-prose-editor/editor"

// Attributes -----------------------------------------------------------------------------------

function textAttribute(name) {
  return {
    default: null,
    parseHTML: (element) => element.getAttribute(name),
    renderHTML: (attributes) =>
      attributes[name] === null || attributes[name] === undefined ? {} : { [name]: attributes[name] },
  }
}

function booleanAttribute(name) {
  return {
    default: false,
    parseHTML: (element) => element.hasAttribute(name),
    renderHTML: (attributes) => (attributes[name] ? { [name]: "" } : {}),
  }
}

function attributes(names, booleans = []) {
  return Object.fromEntries([
    ...names.map((name) => [name, textAttribute(name)]),
    ...booleans.map((name) => [name, booleanAttribute(name)]),
  ])
}

// The cleaner's attributes for every element, and the ones the built-in nodes do not keep.
export const PressroomAttributes = Extension.create({
  name: "pressroomAttributes",
  addGlobalAttributes() {
    return [
      { types: "*", attributes: attributes(["id", "lang", "dir", "title"]) },
      { types: ["image"], attributes: attributes(["srcset", "sizes", "loading"]) },
      { types: ["link"], attributes: attributes(["hreflang"]) },
      { types: ["blockquote"], attributes: attributes(["cite"]) },
      { types: ["orderedList"], attributes: attributes([], ["reversed"]) },
      { types: ["tableHeader"], attributes: attributes(["scope"]) },
    ]
  },
  // The editable area takes the name of the field it stands for (the label of the textarea it
  // hides), so a screen reader announces "Body, edit text" rather than an unnamed text box.
  onCreate() {
    const area = this.editor.view.dom
    const textarea = area.closest(".prose-editor")?.querySelector("textarea")
    const label = textarea?.id && document.querySelector(`label[for="${textarea.id}"]`)
    if (label && !area.hasAttribute("aria-label")) {
      area.setAttribute("aria-label", label.textContent.trim().replace(/:$/, ""))
    }
  },
})

// Inline elements ------------------------------------------------------------------------------

// One mark per inline element, so that <b> stays <b> (the built-in Bold would write <strong>)
// and <del>, <kbd>, <time> ... are kept with their attributes.
function elementMark(name, tag, names = []) {
  return Mark.create({
    name,
    addAttributes: () => attributes(names),
    // Before the built-in marks' rules that read the same tag as something else.
    parseHTML: () => [{ tag, priority: 60 }],
    renderHTML: ({ HTMLAttributes }) => [tag, HTMLAttributes, 0],
  })
}

export const BElement = elementMark("bElement", "b")
export const IElement = elementMark("iElement", "i")
export const Deleted = elementMark("deleted", "del", ["cite", "datetime"])
export const Inserted = elementMark("inserted", "ins", ["cite", "datetime"])
export const Marked = elementMark("marked", "mark")
export const Small = elementMark("small", "small")
export const Abbreviation = elementMark("abbreviation", "abbr")
export const Citation = elementMark("citation", "cite")
export const InlineQuote = elementMark("inlineQuote", "q", ["cite"])
export const Keyboard = elementMark("keyboard", "kbd")
export const Span = elementMark("span", "span")
export const Time = elementMark("time", "time", ["datetime"])

// Block containers -----------------------------------------------------------------------------

function container(name, tag, content = "block+") {
  return Node.create({
    name,
    group: "block",
    content,
    defining: true,
    parseHTML: () => [{ tag }],
    renderHTML: ({ HTMLAttributes }) => [tag, HTMLAttributes, 0],
  })
}

export const Division = container("division", "div")
export const Address = container("address", "address")
export const DescriptionList = container(
  "descriptionList",
  "dl",
  "(descriptionTerm | descriptionDetails)+",
)
export const DescriptionTerm = Node.create({
  name: "descriptionTerm",
  content: "inline*",
  defining: true,
  parseHTML: () => [{ tag: "dt" }],
  renderHTML: ({ HTMLAttributes }) => ["dt", HTMLAttributes, 0],
})
export const DescriptionDetails = Node.create({
  name: "descriptionDetails",
  content: "block+",
  defining: true,
  parseHTML: () => [{ tag: "dd" }],
  renderHTML: ({ HTMLAttributes }) => ["dd", HTMLAttributes, 0],
})

// A figure holds any blocks: an image, a gallery's figures, a player, a pull quote's quote.
export const Figure = BaseFigure.extend({
  content: "block+",
  addAttributes: () => ({}),
})
export const Caption = BaseCaption.extend({ addAttributes: () => ({}) })

// Tables: the caption is kept as the table's attribute (the table's content is rows only).
export const Table = BaseTable.extend({
  addAttributes() {
    return {
      ...this.parent?.(),
      caption: {
        default: null,
        parseHTML: (element) => {
          const caption = element.querySelector(":scope > caption")
          return caption ? caption.textContent.trim() || null : null
        },
        rendered: false,
      },
      captionAttributes: {
        default: null,
        parseHTML: (element) => {
          const caption = element.querySelector(":scope > caption")
          if (!caption) return null
          const kept = {}
          for (const name of ["id", "lang", "dir", "title"]) {
            if (caption.hasAttribute(name)) kept[name] = caption.getAttribute(name)
          }
          return Object.keys(kept).length ? kept : null
        },
        rendered: false,
      },
    }
  },
  parseHTML: () => [{ tag: "table" }, { tag: "caption", ignore: true }],
  renderHTML(props) {
    const rendered = this.parent(props)
    const caption = props.node.attrs.caption
    if (!caption) return rendered
    const table = rendered[0] === "table" ? rendered : rendered[2]
    table.splice(2, 0, ["caption", { ...props.node.attrs.captionAttributes }, caption])
    return rendered
  },
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "tableCaption",
      groups: "table",
      command: (editor) => {
        const { caption } = editor.getAttributes("table")
        updateAttrsDialog(
          { caption: { type: "string", title: "Table caption" } },
          { title: "Table caption", submitText: "Update" },
        )(editor, { caption: caption || "" }).then((values) => {
          if (values) editor.chain().focus().updateAttributes("table", { caption: values.caption.trim() || null }).run()
        })
      },
      button: buttons.material("title", "table caption"),
      hidden: (editor) => !editor.isActive("table"),
    })
  },
})

// Details / summary: shown open while editing.
export const Details = Node.create({
  name: "details",
  group: "block",
  content: "detailsSummary block+",
  defining: true,
  isolating: true,
  parseHTML: () => [{ tag: "details" }],
  renderHTML: ({ HTMLAttributes }) => ["details", HTMLAttributes, 0],
  addNodeView: () => () => {
    const dom = document.createElement("div")
    dom.className = "pressroom-details"
    return { dom, contentDOM: dom }
  },
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "details",
      groups: "nodes",
      command: (editor) =>
        insertBlock(editor, {
          type: "details",
          content: [
            { type: "detailsSummary", content: [{ type: "text", text: "Summary" }] },
            { type: "paragraph", content: [{ type: "text", text: "Details shown on request." }] },
          ],
        }),
      button: buttons.material("unfold_more", "details / summary"),
    })
  },
})
export const DetailsSummary = Node.create({
  name: "detailsSummary",
  content: "inline*",
  defining: true,
  isolating: true,
  parseHTML: () => [{ tag: "summary" }],
  renderHTML: ({ HTMLAttributes }) => ["summary", HTMLAttributes, 0],
  addNodeView: () => () => {
    const dom = document.createElement("div")
    dom.className = "pressroom-summary"
    return { dom, contentDOM: dom }
  },
})

// Pictures, audio and video: kept whole (selected, moved and deleted as one block).

export const MediaSource = Node.create({
  name: "mediaSource",
  addAttributes: () => attributes(["src", "srcset", "type", "media", "sizes"]),
  parseHTML: () => [{ tag: "source" }],
  renderHTML: ({ HTMLAttributes }) => ["source", HTMLAttributes],
})
export const MediaTrack = Node.create({
  name: "mediaTrack",
  addAttributes: () => attributes(["src", "kind", "srclang", "label"]),
  parseHTML: () => [{ tag: "track" }],
  renderHTML: ({ HTMLAttributes }) => ["track", HTMLAttributes],
})
export const Picture = Node.create({
  name: "picture",
  group: "block",
  content: "mediaSource* image",
  atom: true,
  draggable: true,
  selectable: true,
  parseHTML: () => [{ tag: "picture" }],
  renderHTML: ({ HTMLAttributes }) => ["picture", HTMLAttributes, 0],
})

function player(name, names, booleans) {
  return Node.create({
    name,
    group: "block",
    content: "mediaSource* mediaTrack*",
    atom: true,
    draggable: true,
    selectable: true,
    addAttributes: () => attributes(names, booleans),
    parseHTML: () => [{ tag: name }],
    renderHTML: ({ HTMLAttributes }) => [name, HTMLAttributes, 0],
  })
}
export const Video = player("video", ["src", "poster", "width", "height", "preload"], ["controls"])
export const Audio = player("audio", ["src", "preload"], ["controls"])

// A block goes in at the top level after the block holding the cursor (never inside a caption
// or a quote); at the end of the article, with an empty paragraph after it to write on.
function insertBlock(editor, block) {
  const { $from } = editor.state.selection
  const empty = $from.depth === 1 && $from.parent.type.name === "paragraph" && $from.parent.content.size === 0
  // An empty paragraph holding the cursor makes way for the block.
  const range = empty
    ? { from: $from.before(1), to: $from.after(1) }
    : $from.depth > 0
      ? $from.after(1)
      : $from.pos
  const end = empty ? range.to : range
  const atEnd = end >= editor.state.doc.content.size
  return editor
    .chain()
    .focus()
    .insertContentAt(range, atEnd ? [block, { type: "paragraph" }] : block)
    .run()
}

// Library blocks ------------------------------------------------------------------------------

function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties)
  node.append(...children)
  return node
}

// A dialog listing the library's items of one kind; resolves to the chosen ones ([] if none).
function chooseFromLibrary(editor, endpoint, kind, multiple) {
  return new Promise((resolve) => {
    const chosen = new Map()
    const search = element("input", { type: "search", placeholder: "Search the library", className: "pressroom-picker-search" })
    const list = element("ul", { className: "pressroom-picker-list" })
    const status = element("p", { className: "pressroom-picker-status", role: "status" })
    const insert = element("button", { type: "button", textContent: "Insert", disabled: true })
    const cancel = element("button", { type: "button", textContent: "Cancel" })
    const title = { image: multiple ? "Choose images for the gallery" : "Choose an image", audio: "Choose audio", video: "Choose a video" }[kind]
    const dialog = element("dialog", { className: "prose-editor-dialog pressroom-picker" }, [
      element("h3", { className: "prose-editor-dialog-title", textContent: title }),
      search,
      status,
      list,
      element("div", { className: "prose-editor-dialog-buttons" }, multiple ? [insert, cancel] : [cancel]),
    ])
    let result = []
    const finish = (items) => {
      result = items
      dialog.close()
    }
    dialog.addEventListener("close", () => {
      dialog.remove()
      resolve(result)
    })
    cancel.addEventListener("click", () => finish([]))
    insert.addEventListener("click", () => finish([...chosen.values()]))
    const load = async () => {
      const url = `${endpoint}?kind=${encodeURIComponent(kind)}&q=${encodeURIComponent(search.value)}`
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      const data = await response.json()
      if (!response.ok) {
        status.textContent = data.error || "The library could not be read."
        return
      }
      status.textContent = data.items.length ? "" : "Nothing in the library matches."
      list.replaceChildren(
        ...data.items.map((item) => {
          const button = element("button", { type: "button", className: "pressroom-picker-item" }, [
            item.thumbnail ? element("img", { src: item.thumbnail, alt: "", width: 96, height: 96 }) : "",
            element("span", { textContent: item.name }),
          ])
          button.dataset.mediaId = item.id
          button.setAttribute("aria-pressed", chosen.has(item.id) ? "true" : "false")
          button.addEventListener("click", () => {
            if (!multiple) return finish([item])
            if (chosen.has(item.id)) chosen.delete(item.id)
            else chosen.set(item.id, item)
            button.setAttribute("aria-pressed", chosen.has(item.id) ? "true" : "false")
            insert.disabled = chosen.size === 0
          })
          return element("li", {}, [button])
        }),
      )
    }
    let timer = null
    search.addEventListener("input", () => {
      clearTimeout(timer)
      timer = setTimeout(load, 250)
    })
    editor.view.dom.parentElement.append(dialog)
    dialog.showModal()
    load()
  })
}

// A caption with the credit in <small>, from the library item's fields.
function captionFor(item) {
  const content = []
  if (item.caption) content.push({ type: "text", text: item.caption })
  if (item.credit) {
    if (content.length) content.push({ type: "text", text: " " })
    content.push({ type: "text", text: item.credit, marks: [{ type: "small" }] })
  }
  return content.length ? [{ type: "caption", content }] : []
}

function imageFigure(item) {
  const attrs = { src: item.url, alt: item.alt_text || "" }
  if (item.width) attrs.width = item.width
  if (item.height) attrs.height = item.height
  return { type: "figure", content: [{ type: "image", attrs }, ...captionFor(item)] }
}

function playerFigure(kind, item) {
  return {
    type: "figure",
    content: [{ type: kind, attrs: { src: item.url, controls: true, preload: "metadata" } }, ...captionFor(item)],
  }
}

export const LibraryBlocks = Extension.create({
  name: "libraryBlocks",
  addOptions: () => ({ endpoint: "" }),
  addMenuItems({ buttons, menu }) {
    const endpoint = this.options.endpoint
    const define = (name, icon, label, kind, multiple, build) =>
      menu.defineItem({
        name,
        groups: "nodes",
        command: (editor) => {
          chooseFromLibrary(editor, endpoint, kind, multiple).then((items) => {
            if (items.length) insertBlock(editor, build(items))
          })
        },
        button: buttons.material(icon, label),
      })
    define("libraryImage", "add_photo_alternate", "image from the library", "image", false, ([item]) => imageFigure(item))
    define("gallery", "collections", "gallery", "image", true, (items) => ({ type: "figure", content: items.map(imageFigure) }))
    define("libraryAudio", "audiotrack", "audio from the library", "audio", false, ([item]) => playerFigure("audio", item))
    define("libraryVideo", "movie", "video from the library", "video", false, ([item]) => playerFigure("video", item))
  },
})

// A pull quote: a figure around the quote, the attribution in its caption.
export const PullQuote = Extension.create({
  name: "pullQuote",
  addMenuItems({ buttons, menu }) {
    menu.defineItem({
      name: "pullQuote",
      groups: "nodes",
      command: (editor) =>
        insertBlock(editor, {
          type: "figure",
          content: [
            { type: "blockquote", content: [{ type: "paragraph", content: [{ type: "text", text: "The words to pull out." }] }] },
            { type: "caption", content: [{ type: "text", text: "Who said them" }] },
          ],
        }),
      button: buttons.material("format_quote", "pull quote"),
    })
  },
})

// Embeds ---------------------------------------------------------------------------------------

// The player's iframe. In the editor it shows as a box naming the player: nothing is loaded
// from the provider while writing.
export const Embed = Node.create({
  name: "embed",
  group: "block",
  atom: true,
  draggable: true,
  selectable: true,
  addOptions: () => ({ endpoint: "" }),
  addAttributes: () => attributes(["src", "width", "height", "allow", "loading"], ["allowfullscreen"]),
  parseHTML: () => [{ tag: "iframe" }],
  renderHTML: ({ HTMLAttributes }) => ["iframe", HTMLAttributes],
  addNodeView: () => ({ node }) => {
    const dom = element("div", { className: "pressroom-embed" }, [
      element("strong", { textContent: "Embed: " }),
      element("span", { textContent: node.attrs.title || node.attrs.src || "" }),
    ])
    dom.dataset.src = node.attrs.src || ""
    return { dom }
  },
  addMenuItems({ buttons, menu }) {
    const endpoint = this.options.endpoint
    menu.defineItem({
      name: "embed",
      groups: "nodes",
      command: (editor) => askForEmbed(editor, endpoint, ""),
      button: buttons.material("smart_display", "embed (YouTube, Vimeo, SoundCloud ...)"),
    })
  },
})

function askForEmbed(editor, endpoint, message) {
  updateAttrsDialog(
    {
      url: {
        type: "string",
        title: "Address",
        description:
          message ||
          "A YouTube, Vimeo, SoundCloud, Spotify, Bandcamp (its embed code), Internet Archive, PeerTube or Mastodon address.",
        required: true,
      },
    },
    { title: "Embed", submitText: "Embed" },
  )(editor, { url: "" }).then(async (values) => {
    if (!values || !values.url.trim()) return
    const response = await fetch(`${endpoint}?url=${encodeURIComponent(values.url.trim())}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
    const data = await response.json()
    if (!response.ok) return askForEmbed(editor, endpoint, data.error || "That address cannot be embedded.")
    const attrs = { src: data.src, title: `${data.provider} player`, allowfullscreen: true }
    if (data.height) attrs.height = data.height
    insertBlock(editor, { type: "embed", attrs })
  })
}
