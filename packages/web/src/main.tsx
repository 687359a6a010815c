import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.js';
import { captureLinkOptions } from './app/linkOptions.js';
import { registerServiceWorker } from './app/registerServiceWorker.js';
import './styles.css';

// A room link's options (`#guest=1&name=…&auto=…&mute=…`) are read once and leave the address.
captureLinkOptions();
const root = document.getElementById('root');
if (!root) throw new Error('#root missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
registerServiceWorker();
