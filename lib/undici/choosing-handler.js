'use strict'
// The outer shape of a handler that learns only from the origin's response status and headers
// which handler the exchange belongs to (PostResponseHandler, VariantTagsHandler): it holds
// the caller until then, hands the exchange to the handler `choose(statusCode, headers)`
// returns (which starts from that response), and forwards the rest to it. `choose` may return
// null after sending the caller elsewhere itself: the rest of this exchange is then dropped.
// A subclass may change how the chosen handler is ended (`endChosen`).
const { upstreamSource } = require('../engine/downstream')

const DROPPED = Symbol('dropped')

class ChoosingHandler {
  #downstream
  #context = null
  #settled = false
  #chosen = null // the handler the response went to, or DROPPED

  /** @param {import('../engine/downstream').Downstream} downstream  the caller */
  constructor (downstream) {
    this.#downstream = downstream
  }

  /** The caller's Downstream. */
  get downstream () {
    return this.#downstream
  }

  /**
   * The handler the response with `statusCode` and `headers` goes to, or null when this
   * exchange is dropped (the caller was sent elsewhere). Subclasses implement it; `controller`
   * is undici's, for one that would rather abort a dropped response than let it drain.
   * @returns {object | null}
   */
  choose (statusCode, headers, controller) {
    throw new Error('ChoosingHandler#choose is not implemented')
  }

  /** Ends the chosen handler (subclasses may defer it). */
  endChosen (chosen, controller, trailers) {
    chosen.onResponseEnd(controller, trailers)
  }

  onRequestStart (controller, context) {
    this.#context = context
    this.#settled = false
    this.#downstream.attach(upstreamSource(controller, () => this.#settled, this.#downstream), context)
  }

  onRequestUpgrade (controller, statusCode, headers, socket) {
    this.#downstream.upgrade(statusCode, headers, socket)
  }

  onResponseStart (controller, statusCode, headers, statusMessage) {
    if (this.#chosen !== null) return
    const chosen = this.choose(statusCode, headers, controller)
    if (chosen === null) {
      this.#chosen = DROPPED
      return
    }
    this.#chosen = chosen
    chosen.onRequestStart(controller, this.#context)
    return chosen.onResponseStart(controller, statusCode, headers, statusMessage)
  }

  onResponseData (controller, chunk) {
    const chosen = this.#chosen
    if (chosen !== null && chosen !== DROPPED) return chosen.onResponseData(controller, chunk)
  }

  onResponseEnd (controller, trailers) {
    this.#settled = true
    const chosen = this.#chosen
    if (chosen === DROPPED) return
    if (chosen === null) return this.#downstream.end(trailers)
    this.endChosen(chosen, controller, trailers)
  }

  onResponseError (controller, err) {
    this.#settled = true
    const chosen = this.#chosen
    if (chosen === DROPPED) return
    if (chosen !== null) return chosen.onResponseError(controller, err)
    this.#downstream.error(err)
  }
}

module.exports = { ChoosingHandler }
