'use strict';

/*
 * The API reference page: Swagger UI (served from this API, no CDN) reading /openapi.json. A file of
 * its own rather than an inline script, because the page's CSP runs scripts from this origin only.
 */
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // Swagger UI would otherwise send the document to validator.swagger.io for its badge.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
