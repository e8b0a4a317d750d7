import path from 'node:path';
import express, { Router } from 'express';

/** The checkout page's files: plain HTML, CSS and JS, served as they are (no build step). */
export const PAGE_DIR = path.resolve(__dirname, '../../page');

export function pageRoutes(): Router {
  const router = Router();
  const html = (file: string): express.RequestHandler => (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(path.join(PAGE_DIR, file));
  };
  router.get('/', html('index.html'));
  router.get('/app', html('app.html'));
  router.use('/assets', express.static(path.join(PAGE_DIR, 'assets'), { index: false, fallthrough: true, maxAge: 0 }));
  return router;
}
