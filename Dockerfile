FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json .swcrc ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build:app
ENV NODE_ENV=production PORT=3000
EXPOSE 3000
CMD ["node", "dist/apps/incidents/src/main.js"]
