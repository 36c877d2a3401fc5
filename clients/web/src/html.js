/** Preact bound to htm: templates without a JSX build step. */
import { h } from 'preact';
import htm from 'htm';

/** @type {(strings: TemplateStringsArray, ...values: any[]) => any} */
export const html = /** @type {any} */ (htm).bind(h);
