import path from 'node:path';
import { Router } from 'express';
import { openApiDocument } from '../openapi/document';
import { DOCS_ASSET_FILES } from '../openapi/pages';
import { PAGE_DIR } from './page';

/** swagger-ui-dist, a production dependency: the reference page needs no CDN, which the CSP would refuse anyway. */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The API's own description (`/openapi.json`) and the page that renders it (`/docs`). */
export function docsRoutes(): Router {
  // Generated here, at start: a description that cannot be generated stops the API from starting.
  const document = JSON.stringify(openApiDocument());
  const router = Router();

  router.get('/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'no-cache').type('application/json').send(document);
  });

  router.get('/docs', (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(path.join(PAGE_DIR, 'docs.html'));
  });

  // Only the files the page loads: nothing else of the package (its demo page loads a remote document).
  router.get('/docs/assets/:file', (req, res, next) => {
    const file = DOCS_ASSET_FILES.find((name) => name === req.params.file);
    if (!file) return next();
    res.set('Cache-Control', 'no-cache').sendFile(path.join(SWAGGER_UI_DIR, file));
  });

  return router;
}
