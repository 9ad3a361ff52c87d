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

class Downstream {
  #handler
  #source = null
  #started = false
  #finished = false
  #paused = false
  #aborted = false
  #reason = null
  controller

  constructor (handler) {
    this.#handler = handler
    const self = this
    this.controller = {
      rawHeaders: null,
      rawTrailers: null,
      pause () { self.#pause() },
      resume () { self.#resume() },
      abort (reason) { self.#abort(reason) },
      get paused () { return self.#paused },
      get aborted () { return self.#aborted },
      get reason () { return self.#reason },
    }
  }

  get aborted () { return this.#aborted }
  get reason () { return this.#reason }
  get finished () { return this.#finished }
  get handler () { return this.#handler }

  /** Makes `source` ({ pause, resume, abort }) the one the caller's controller drives. */
  attach (source, context) {
    this.#source = source
    if (this.#aborted) {
      source.abort(this.#reason)
      return
    }
    if (this.#paused) source.pause()
    if (this.#started) return
    this.#started = true
    try {
      this.#handler.onRequestStart?.(this.controller, context ?? {})
    } catch (err) {
      this.#abort(err)
    }
  }

  /** No source for now (between one answer and the next). */
  detach () {
    this.#source = null
  }

  responseStart (statusCode, headers, statusMessage = STATUS_CODES[statusCode] ?? '') {
    if (this.#finished) return
    this.controller.rawHeaders = toRawHeaders(headers)
    return this.#handler.onResponseStart?.(this.controller, statusCode, headers, statusMessage)
  }

  upgrade (statusCode, headers, socket) {
    this.#handler.onRequestUpgrade?.(this.controller, statusCode, headers, socket)
  }

  /** Hands a chunk over; returns whether the caller wants more now. */
  data (chunk) {
    if (this.#finished) return false
    this.#handler.onResponseData?.(this.controller, chunk)
    return !this.#paused
  }

  end (trailers = {}) {
    if (this.#finished) return
    this.#finished = true
    this.#source = null
    this.controller.rawTrailers = toRawHeaders(trailers)
    this.#handler.onResponseEnd?.(this.controller, trailers)
  }

  error (err) {
    if (this.#finished) return
    this.#finished = true
    this.#source = null
    this.#handler.onResponseError?.(this.controller, err)
  }

  #pause () {
    this.#paused = true
    this.#source?.pause()
  }

  #resume () {
    if (!this.#paused) return
    this.#paused = false
    this.#source?.resume()
  }

  #abort (reason) {
    if (this.#aborted || this.#finished) return
    this.#aborted = true
    this.#reason = reason ?? abortError()
    this.#source?.abort(this.#reason)
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
