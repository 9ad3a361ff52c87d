'use strict'
// The caller's handler, behind one controller that outlives the sources feeding it.
//
// A request can be answered by more than one source in turn: a revalidation request whose 304
// hands over to the cached body, a cached body that fails its check and hands over to the
// origin. The caller sees one `onRequestStart`, one controller, one response. Its
// pause/resume/abort go to whichever source is attached at the time; an abort while no
// source is attached is remembered and applied to the next one.
//
// Every source's `abort(reason)` must end in `error(reason)` (directly or through its stream).
//
// Only new-style handlers (onRequestStart, onResponseStart...): undici 7 and 8's compose()
// wraps every handler it is given into one, so an interceptor never sees another kind.
const { STATUS_CODES } = require('node:http')
const { toRawHeaders } = require('./headers')

function abortError () {
  try {
    const { errors } = require('undici')
    return new errors.RequestAbortedError()
  } catch {
    const err = new Error('Request aborted')
    err.name = 'AbortError'
    err.code = 'UND_ERR_ABORTED'
    return err
  }
}

/** What the caller's controller asks of its Downstream (module-private names). */
const kPause = Symbol('pause')
const kResume = Symbol('resume')
const kAbort = Symbol('abort')
const kState = Symbol('state')

/**
 * The controller the caller's handler gets: one per request, its methods on the prototype.
 * `rawHeaders` and `rawTrailers` (undici's raw form, Buffers) are built when first read:
 * fetch and most handlers use the headers object and never do.
 */
class DownstreamController {
  #downstream
  #rawHeaders = null
  #rawTrailers = null
  /** Headers (or trailers) whose raw form is built on first read. */
  #headers = null
  #trailers = null

  constructor (downstream) {
    this.#downstream = downstream
  }

  pause () { this.#downstream[kPause]() }
  resume () { this.#downstream[kResume]() }
  abort (reason) { this.#downstream[kAbort](reason) }
  get paused () { return this.#downstream[kState].paused }
  get aborted () { return this.#downstream[kState].aborted }
  get reason () { return this.#downstream[kState].reason }

  get rawHeaders () {
    if (this.#headers !== null) {
      this.#rawHeaders = toRawHeaders(this.#headers)
      this.#headers = null
    }
    return this.#rawHeaders
  }

  set rawHeaders (value) {
    this.#rawHeaders = value
    this.#headers = null
  }

  get rawTrailers () {
    if (this.#trailers !== null) {
      this.#rawTrailers = toRawHeaders(this.#trailers)
      this.#trailers = null
    }
    return this.#rawTrailers
  }

  set rawTrailers (value) {
    this.#rawTrailers = value
    this.#trailers = null
  }

  /** The response's headers: `rawHeaders` is their raw form from now on. */
  headersAre (headers) {
    this.#rawHeaders = null
    this.#headers = headers
  }

  trailersAre (trailers) {
    this.#rawTrailers = null
    this.#trailers = trailers
  }
}

class Downstream {
  #handler
  #source = null
  #started = false
  #finished = false
  controller

  constructor (handler) {
    this.#handler = handler
    /** What the controller reports: `paused`, `aborted` and the abort `reason`. */
    this[kState] = { paused: false, aborted: false, reason: null }
    this.controller = new DownstreamController(this)
  }

  get aborted () { return this[kState].aborted }
  get reason () { return this[kState].reason }
  get finished () { return this.#finished }
  get handler () { return this.#handler }

  /** Makes `source` ({ pause, resume, abort }) the one the caller's controller drives. */
  attach (source, context) {
    this.#source = source
    const state = this[kState]
    if (state.aborted) {
      source.abort(state.reason)
      return
    }
    if (state.paused) source.pause()
    if (this.#started) return
    this.#started = true
    try {
      this.#handler.onRequestStart?.(this.controller, context ?? {})
    } catch (err) {
      this[kAbort](err)
    }
  }

  /** No source for now (between one answer and the next). */
  detach () {
    this.#source = null
  }

  responseStart (statusCode, headers, statusMessage = STATUS_CODES[statusCode] ?? '') {
    if (this.#finished) return
    this.controller.headersAre(headers)
    return this.#handler.onResponseStart?.(this.controller, statusCode, headers, statusMessage)
  }

  upgrade (statusCode, headers, socket) {
    this.#handler.onRequestUpgrade?.(this.controller, statusCode, headers, socket)
  }

  /** Hands a chunk over; returns whether the caller wants more now. */
  data (chunk) {
    if (this.#finished) return false
    this.#handler.onResponseData?.(this.controller, chunk)
    return !this[kState].paused
  }

  end (trailers = {}) {
    if (this.#finished) return
    this.#finished = true
    this.#source = null
    this.controller.trailersAre(trailers)
    this.#handler.onResponseEnd?.(this.controller, trailers)
  }

  error (err) {
    if (this.#finished) return
    this.#finished = true
    this.#source = null
    this.#handler.onResponseError?.(this.controller, err)
  }

  [kPause] () {
    this[kState].paused = true
    this.#source?.pause()
  }

  [kResume] () {
    const state = this[kState]
    if (!state.paused) return
    state.paused = false
    this.#source?.resume()
  }

  [kAbort] (reason) {
    const state = this[kState]
    if (state.aborted || this.#finished) return
    state.aborted = true
    state.reason = reason ?? abortError()
    this.#source?.abort(state.reason)
  }
}

/** A source over an undici request controller; `settled()` tells when undici is done with it. */
function upstreamSource (controller, settled, downstream) {
  return {
    pause: () => controller.pause(),
    resume: () => controller.resume(),
    abort: (reason) => {
      // After the response ended undici reports nothing more, so the error is ours to deliver.
      if (settled()) downstream.error(reason)
      else controller.abort(reason)
    },
  }
}

module.exports = { Downstream, upstreamSource }
